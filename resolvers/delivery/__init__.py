"""E-mail and SMS deliveries of the school's messages: the outbox (outbox.py) that sends the due
QUEUED ones, what is sent for each (email.py, sms.py) and the SMS provider's status reports
(status.py)."""
