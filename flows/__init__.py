"""What the business does: balances, collections, links, reminders, receipts, payables."""
