"""qa-scorer: audit customer-service chats, score service quality, feed payroll."""

__version__ = "0.1.0"
