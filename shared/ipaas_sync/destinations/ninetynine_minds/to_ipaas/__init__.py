"""The 99minds -> iPaaS.com direction: loyalty transactions and customers into iPaaS.com."""
