"""The answers a courier recently got, by client_message_id, so that a message re-sent
(after a reconnect, say) is not applied twice and gets the same answer."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

AnswerT = TypeVar("AnswerT")


class RecentAnswers(Generic[AnswerT]):
    """A bounded map that forgets the least recently used id first."""

    __slots__ = ("_answers", "_capacity")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._answers: OrderedDict[str, AnswerT] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, message_id: str) -> AnswerT | None:
        answer = self._answers.get(message_id)
        if answer is not None:
            self._answers.move_to_end(message_id)
        return answer

    def peek(self, message_id: str) -> AnswerT | None:
        """The answer to `message_id`, without counting as a use."""
        return self._answers.get(message_id)

    def replace(self, message_id: str, answer: AnswerT) -> None:
        """A lighter form of the answer held for `message_id`, in the same place."""
        if message_id in self._answers:
            self._answers[message_id] = answer

    def remember(self, message_id: str, answer: AnswerT) -> None:
        self._answers[message_id] = answer
        self._answers.move_to_end(message_id)
        while len(self._answers) > self._capacity:
            self._answers.popitem(last=False)

    def forget(self, message_id: str) -> None:
        """For answers that invite a retry (the upstream was down): the re-send runs again."""
        self._answers.pop(message_id, None)
