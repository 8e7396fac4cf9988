"""newsbot front ends: command line, REPL and Telegram."""
