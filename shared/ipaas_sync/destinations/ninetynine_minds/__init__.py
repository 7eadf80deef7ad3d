"""99minds: customers, the order workflow and gift cards from iPaaS.com; loyalty back into iPaaS.com (to_ipaas/)."""
