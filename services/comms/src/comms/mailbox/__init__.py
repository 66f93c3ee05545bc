"""The development mailbox: mail the embedded runner's local catcher received, read by admins."""
