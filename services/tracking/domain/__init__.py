"""What tracking knows of a delivery and which updates are news to a watcher."""
