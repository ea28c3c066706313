"""The bounded queue that sheds droppable items first and never blocks producers."""

from __future__ import annotations

from services.fleet.service_layer.shedding_queue import SheddingQueue


async def test_a_full_queue_sheds_droppable_items_to_make_room_for_the_rest() -> None:
    queue: SheddingQueue[str] = SheddingQueue(2)
    assert queue.put("ack-1", droppable=True)
    assert queue.put("offer")
    assert queue.full_since is not None
    assert not queue.put("ack-2", droppable=True)  # a new droppable item is dropped at once
    assert queue.put("assignment")  # sheds ack-1
    assert not queue.put("another")  # nothing left to shed
    assert not queue.has_room()
    assert [await queue.get(), await queue.get()] == ["offer", "assignment"]
    assert queue.full_since is None


async def test_the_final_item_comes_after_everything_and_ends_the_queue() -> None:
    queue: SheddingQueue[str] = SheddingQueue(2)
    queue.put("ack")
    queue.finish("closing")
    assert not queue.put("late")
    assert [await queue.get(), await queue.get()] == ["ack", "closing"]


async def test_finishing_can_discard_what_is_pending() -> None:
    queue: SheddingQueue[str] = SheddingQueue(2)
    queue.put("stale")
    queue.finish("closing", discard_pending=True)
    assert await queue.get() == "closing"
