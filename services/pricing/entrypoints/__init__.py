"""pricing's gRPC servicers: proto in, one handler call, proto out."""
