"""tracking's gRPC servicer."""
