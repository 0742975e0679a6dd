"""Machine translation of messages, through one of two providers (the model wins when both are set):

- an OpenAI-compatible chat completions API: POST {TRANSLATION_MODEL_URL}/chat/completions with
  TRANSLATION_MODEL_NAME (and TRANSLATION_MODEL_KEY as a bearer token when set), one request per
  text, in parallel;
- a LibreTranslate-compatible API: POST {LIBRETRANSLATE_URL}/translate with q (the texts), source,
  target, format "text" and api_key (LIBRETRANSLATE_KEY) when set, one request for all texts.

Placeholders are never sent: every `{{...}}` is swapped for a marker `[[n]]` first, the provider is
asked to keep the markers, and the answer must hold each marker exactly once or it counts as a
failure. So template variables survive translation verbatim, and their values (rendered later, or
never sent at all) are not translated.

Nothing here makes a translation up: no provider, an error, a timeout, an unreadable answer or a
lost placeholder gives None, and the caller sends the original and says it was not translated.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from config import Settings

log = logging.getLogger(__name__)

# How long LibreTranslate's /languages answer is trusted, and how soon a failed ask is repeated.
LANGUAGES_TTL_SECONDS = 3600.0
LANGUAGES_RETRY_SECONDS = 60.0

_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.DOTALL)


@dataclass(frozen=True)
class Language:
    code: str  # BCP 47
    name: str  # in English
    native_name: str


# The languages a user may choose and messages may be written in: those most spoken by families in
# the districts we serve, all of which LibreTranslate's standard models and the usual chat models know.
SUPPORTED_LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "English"),
    Language("es", "Spanish", "Español"),
    Language("fr", "French", "Français"),
    Language("de", "German", "Deutsch"),
    Language("pt", "Portuguese", "Português"),
    Language("it", "Italian", "Italiano"),
    Language("pl", "Polish", "Polski"),
    Language("ru", "Russian", "Русский"),
    Language("uk", "Ukrainian", "Українська"),
    Language("tr", "Turkish", "Türkçe"),
    Language("ar", "Arabic", "العربية"),
    Language("fa", "Persian", "فارسی"),
    Language("ur", "Urdu", "اردو"),
    Language("hi", "Hindi", "हिन्दी"),
    Language("bn", "Bengali", "বাংলা"),
    Language("zh", "Chinese", "中文"),
    Language("ja", "Japanese", "日本語"),
    Language("ko", "Korean", "한국어"),
    Language("vi", "Vietnamese", "Tiếng Việt"),
    Language("tl", "Tagalog", "Tagalog"),
)

LANGUAGES_BY_CODE = {language.code: language for language in SUPPORTED_LANGUAGES}


class TranslationFailed(Exception):
    """Inside this module only: why a provider's answer is not used (logged)."""


@dataclass(frozen=True)
class _Protected:
    text: str
    placeholders: tuple[str, ...]


def _marker(index: int) -> str:
    return f"[[{index}]]"


def _protect(text: str) -> _Protected:
    placeholders = tuple(match.group() for match in _PLACEHOLDER.finditer(text))
    if any(_marker(index) in text for index in range(len(placeholders))):
        raise TranslationFailed("the text already holds a placeholder marker")
    counter = iter(range(len(placeholders)))
    return _Protected(_PLACEHOLDER.sub(lambda _: _marker(next(counter)), text), placeholders)


def _restore(translated: str, protected: _Protected) -> str:
    for index, placeholder in enumerate(protected.placeholders):
        marker = _marker(index)
        if translated.count(marker) != 1:
            raise TranslationFailed(f"placeholder {placeholder} did not come back once")
        translated = translated.replace(marker, placeholder)
    return translated


def _worth_sending(protected: _Protected) -> bool:
    """Whether anything but markers and whitespace is left to translate."""
    rest = protected.text
    for index in range(len(protected.placeholders)):
        rest = rest.replace(_marker(index), "")
    return bool(rest.strip())


class _Message(BaseModel):
    content: str


class _Choice(BaseModel):
    message: _Message


class _ChatAnswer(BaseModel):
    choices: list[_Choice]


class _LibreAnswer(BaseModel):
    translatedText: list[str] | str  # noqa: N815 (the provider's name)


class _LibreLanguage(BaseModel):
    code: str


_LIBRE_LANGUAGES = TypeAdapter(list[_LibreLanguage])


class Translator:
    """The process's translation client; one per process (AppState.translator). Does not own `http`."""

    def __init__(
        self, settings: Settings, http: httpx.AsyncClient, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._http = http
        self._clock = clock
        self._targets: frozenset[str] = frozenset()
        self._targets_until = float("-inf")

    @property
    def _uses_model(self) -> bool:
        return bool(self._settings.translation_model_url and self._settings.translation_model_name)

    @property
    def available(self) -> bool:
        """A provider is configured (it may still fail on a call)."""
        return self._uses_model or bool(self._settings.libretranslate_url)

    async def translate(self, texts: Sequence[str], source: str, target: str) -> list[str] | None:
        """`texts` translated from `source` into `target` (BCP 47 codes of SUPPORTED_LANGUAGES), in
        order, `{{...}}` placeholders intact; None without a provider or when it fails. The same
        language on both sides gives the texts unchanged, without a call."""
        if not self.available or source not in LANGUAGES_BY_CODE or target not in LANGUAGES_BY_CODE:
            return None
        if source == target:
            return list(texts)
        try:
            protected = [_protect(text) for text in texts]
            wanted = [index for index, item in enumerate(protected) if _worth_sending(item)]
            if self._uses_model:
                answers = await asyncio.gather(
                    *(self._ask_model(protected[i].text, source, target) for i in wanted)
                )
            else:
                answers = await self._ask_libretranslate([protected[i].text for i in wanted], source, target)
            results = list(texts)
            for index, answer in zip(wanted, answers, strict=True):
                results[index] = _restore(answer, protected[index])
        except (TranslationFailed, httpx.HTTPError, ValidationError, ValueError) as error:
            log.warning("translation %s→%s failed: %s: %s", source, target, type(error).__name__, error)
            return None
        return results

    async def target_languages(self) -> frozenset[str]:
        """The supported codes the provider translates into: all of them for a model; for
        LibreTranslate those its GET /languages lists (asked once an hour, at most once a minute
        after a failure, when none are reported); none without a provider."""
        if self._uses_model:
            return frozenset(LANGUAGES_BY_CODE)
        if not self.available:
            return frozenset()
        now = self._clock()
        if now < self._targets_until:
            return self._targets
        url = f"{(self._settings.libretranslate_url or '').rstrip('/')}/languages"
        try:
            response = await self._http.get(url, timeout=self._settings.translation_timeout_seconds)
            response.raise_for_status()
            listed = [item.code for item in _LIBRE_LANGUAGES.validate_json(response.content)]
        except (httpx.HTTPError, ValidationError) as error:
            log.warning("LibreTranslate /languages failed: %s: %s", type(error).__name__, error)
            self._targets, self._targets_until = frozenset(), now + LANGUAGES_RETRY_SECONDS
            return self._targets
        self._targets = frozenset(code for code in listed if code in LANGUAGES_BY_CODE)
        self._targets_until = now + LANGUAGES_TTL_SECONDS
        return self._targets

    async def _ask_model(self, text: str, source: str, target: str) -> str:
        settings = self._settings
        instructions = (
            f"Translate the user's message from {LANGUAGES_BY_CODE[source].name} ({source}) into "
            f"{LANGUAGES_BY_CODE[target].name} ({target}). Keep every marker such as [[0]] exactly as "
            "written, once each, where it belongs in the translated sentence. Reply with the "
            "translation only: no quotes, notes or explanations."
        )
        body = {
            "model": settings.translation_model_name,
            "temperature": 0,
            "messages": [{"role": "system", "content": instructions}, {"role": "user", "content": text}],
        }
        headers = (
            {"Authorization": f"Bearer {settings.translation_model_key}"}
            if settings.translation_model_key
            else {}
        )
        url = f"{(settings.translation_model_url or '').rstrip('/')}/chat/completions"
        response = await self._http.post(
            url, json=body, headers=headers, timeout=settings.translation_timeout_seconds
        )
        response.raise_for_status()
        answer = _ChatAnswer.model_validate_json(response.content)
        reply = answer.choices[0].message.content.strip() if answer.choices else ""
        if not reply:
            raise TranslationFailed("the model answered no text")
        return reply

    async def _ask_libretranslate(self, texts: list[str], source: str, target: str) -> list[str]:
        if not texts:
            return []
        settings = self._settings
        body: dict[str, object] = {"q": texts, "source": source, "target": target, "format": "text"}
        if settings.libretranslate_key:
            body["api_key"] = settings.libretranslate_key
        url = f"{(settings.libretranslate_url or '').rstrip('/')}/translate"
        response = await self._http.post(url, json=body, timeout=settings.translation_timeout_seconds)
        response.raise_for_status()
        translated = _LibreAnswer.model_validate_json(response.content).translatedText
        answers = [translated] if isinstance(translated, str) else translated
        if len(answers) != len(texts):
            raise TranslationFailed(f"{len(answers)} translations for {len(texts)} texts")
        return answers
