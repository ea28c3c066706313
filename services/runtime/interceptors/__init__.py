"""Server interceptors, one class per concern, and the base that wraps handlers."""
