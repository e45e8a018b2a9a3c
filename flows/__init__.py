"""What the business does: balances, collections, reminders, receipts, payables."""
