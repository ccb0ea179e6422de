"""The check-ins API: mobile devices report periodic check-ins; owners read them back."""
