"""The Lastmile edge: proto code generation, the OpenAPI document and the Envoy config."""
