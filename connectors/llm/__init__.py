"""One LLM client for the whole project: GLM (zhipuai) or the offline extractive provider."""

from connectors.llm.base import LLMClient, LLMError, LLMUsage, ResponseCache
from connectors.llm.glm import GLMClient
from connectors.llm.offline import OfflineLLM
from connectors.llm.summaries import Action, MeetingSummary, summarize_meeting

__all__ = [
    "Action",
    "GLMClient",
    "LLMClient",
    "LLMError",
    "LLMUsage",
    "MeetingSummary",
    "OfflineLLM",
    "ResponseCache",
    "summarize_meeting",
]
