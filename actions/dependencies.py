"""What actions need from outside, created on first use and then shared.

rasa-sdk builds every action with no arguments, so actions ask here instead of
receiving dependencies; nothing is read or built at import time.
"""

from __future__ import annotations

from functools import lru_cache

from bot.db.database import Database
from bot.knowledge.feedback import FeedbackStore
from bot.knowledge.service import KnowledgeService
from bot.settings import Settings
from bot.tokenization import Tokenizers


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


@lru_cache(maxsize=1)
def knowledge() -> KnowledgeService:
    return KnowledgeService(settings().knowledge_base_dir, Tokenizers())


@lru_cache(maxsize=1)
def database() -> Database:
    return Database(settings().database_url)


@lru_cache(maxsize=1)
def feedback_store() -> FeedbackStore:
    return FeedbackStore(database())
