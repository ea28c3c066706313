"""orders: deliveries and their lifecycle, from creation to hand-over or cancellation."""
