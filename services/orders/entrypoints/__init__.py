"""orders' gRPC servicers: authorize, proto in, one handler call, proto out."""
