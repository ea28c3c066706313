"""fleet: courier sessions, courier status and last position, and fleet's side of the
Link to dispatch.

Run it with `python -m services.fleet` (gRPC on 50053, /metrics on 9453; settings from
LASTMILE_FLEET_*, see config.py) and apply its migrations alone with
`python -m services.fleet migrate`.

How it works:

- Sessions (CourierSessionService.Connect). Each courier app holds one bidirectional
  stream. A reader task turns up messages into commands (entrypoints/); the session's
  bounded SheddingQueue holds what goes down, written by the call's own task. A newer
  session of the same courier replaces the older one (REPLACED). One sweeper task
  (service_layer/session_watch.py) watches all sessions: heartbeat timeouts, slow
  consumers (a queue full for `slow_consumer_seconds`, or a must-deliver message that
  does not fit), and disconnected couriers whose `resume_grace_seconds` ran out.
- State. Each courier's status, session, held offer and delivery live in the `couriers`
  table; every change is one transaction that checks the version it was read at, bumps
  it, writes the shift history and a `lastmile.courier.status_changed` event into the
  outbox (service_layer/ledger.py, adapters/postgres_couriers.py). A replica whose write
  loses that check has lost the courier to another replica and lets go of it. Memory
  (service_layer/roster.py) holds the couriers this replica serves, their latest fix and
  last sign of life, recent answers by client_message_id, and one timer per held offer.
- Pings touch memory only, and the common (well-formed) one is read without datetimes
  or violation objects: a fix keeps its time as integer nanoseconds. The newest fix goes
  to dispatch in coalesced PositionBatches every `position_flush_seconds` (50 ms), and,
  for a courier carrying a delivery, to tracking on
  `lastmile.courier.position_changed.<courier_id>` at most once per second, in chunks
  that leave the event loop to the sessions (service_layer/positions.py,
  adapters/nats_positions.py).
- The Link (adapters/dispatch_link.py) dials `dispatch_targets` in turn and sends hello,
  a snapshot and then changes, positions and offer responses. dispatch's offers,
  assignments and withdrawals are applied in tasks under each courier's lock
  (service_layer/offers.py, dispatch_decisions.py), so the Link never waits for a
  courier. An offer that cannot be shown is answered UNDELIVERABLE; fleet enforces each
  offer's deadline itself.
- Confirmations call orders' MarkPickedUp / MarkDelivered (idempotent, retried by the
  channel's policy) and are acked only once orders recorded them.
"""
