"""A local Telegram Bot API server that the real python-telegram-bot runs against unmodified.

Point an `Application` at it with `.base_url(f"{fake.url}/bot")` and
`.base_file_url(f"{fake.url}/file/bot")` (or set TELEGRAM_API_URL to `fake.url`). It speaks the
wire format of platforms.md section 4: form, multipart or JSON requests, `{"ok": ...}` answers,
Telegram's error texts, 429 with `retry_after`, long-polled `getUpdates`. Python methods stand in
for the people on the other side (`user_sends`, `user_presses`), record what the bot did (`sent`,
`edits`, `answered_callbacks`, `calls`) and inject faults (`fail_next`).

Deliberately not modelled: inline messages, Markdown entity parsing (HTML is checked), fetching
photos by URL, chat membership (any chat id is reachable), callback queries expiring with time.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from itertools import count

from aiohttp import BodyPartReader, ClientSession, web

JSONDict = dict[str, object]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name

_PARSE_MODES = frozenset({"HTML", "Markdown", "MarkdownV2"})
# What Telegram delivers to a bot that never chose `allowed_updates`: all but these opt-in kinds.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"tg-emoji", "code", "pre", "blockquote"}
)
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(?:\s[^<>]*)?>")
_LEADING_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_BOT_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
# Telegram accepts photos up to 10 MB; aiohttp's 1 MiB default would refuse them first.
_MAX_REQUEST_BYTES = 20 * 1024 * 1024


class _ApiError(Exception):
    """An error answer, shaped and worded as Telegram's."""

    def __init__(self, error_code: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.error_code}
        body["description"] = self.description
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(problem: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {problem}")


@dataclass(frozen=True, slots=True)
class TelegramUser:
    id: int
    first_name: str
    username: str | None = None
    is_bot: bool = False

    def to_json(self) -> JSONDict:
        body: JSONDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username is not None:
            body["username"] = self.username
        return body


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as the bot sent it (`text` keeps its HTML), or its state after edits."""

    chat_id: int
    message_id: int
    date: int
    sender: TelegramUser
    text: str | None = None
    parse_mode: str | None = None
    reply_markup: JSONDict | None = None
    photo: bytes | None = None
    photo_file_id: str | None = None
    caption: str | None = None
    edit_date: int | None = None
    entities: tuple[JSONDict, ...] = ()

    @property
    def inline_keyboard(self) -> JSONDict | None:
        """The markup a Message carries back: Telegram echoes inline keyboards only."""
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            return self.reply_markup
        return None


@dataclass(frozen=True, slots=True)
class Edit:
    chat_id: int
    message_id: int
    method: str
    text: str | None  # the new text; None when only the keyboard changed
    reply_markup: JSONDict | None  # the keyboard after the edit; None when it was removed


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    query_id: str
    text: str | None
    show_alert: bool
    url: str | None


@dataclass(frozen=True, slots=True)
class ApiCall:
    method: str
    at: float  # time.monotonic() when the request arrived
    params: Mapping[str, object]  # as received: form values are strings; uploads left out


@dataclass(frozen=True, slots=True)
class _Update:
    update_id: int
    kind: str
    body: JSONDict

    def to_json(self) -> JSONDict:
        return {"update_id": self.update_id, self.kind: self.body}


@dataclass(frozen=True, slots=True)
class _Upload:
    filename: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


@dataclass(frozen=True, slots=True)
class _Webhook:
    url: str
    secret_token: str | None


class _Params:
    """One call's parameters from a query string, a form, multipart or JSON. Forms carry every
    value as a string with non-strings JSON-encoded, so each accessor accepts both spellings."""

    def __init__(self, values: Mapping[str, object], uploads: Mapping[str, _Upload]) -> None:
        self.values = dict(values)
        self._uploads = dict(uploads)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise _bad_request(f'field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str):
            with suppress(ValueError):
                return int(value)
        raise _bad_request(f'field "{name}" must be of type Integer')

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))

    def decoded(self, name: str) -> object:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            decoded: object = json.loads(value)
        except ValueError:
            raise _bad_request(f"can't parse {name} JSON object") from None
        return decoded

    def json_object(self, name: str) -> JSONDict | None:
        value = self.decoded(name)
        if value is None or isinstance(value, dict):
            return value
        raise _bad_request(f"can't parse {name} JSON object")

    def json_list(self, name: str) -> list[object] | None:
        value = self.decoded(name)
        if value is None or isinstance(value, list):
            return value
        raise _bad_request(f"can't parse {name} JSON array")

    def upload(self, name: str) -> _Upload | None:
        """A file part named `name`, or the part an `attach://<part>` value points at."""
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            return self._uploads.get(value.removeprefix("attach://"))
        return self._uploads.get(name)


async def _read_params(request: web.Request) -> _Params:
    values: dict[str, object] = dict(request.query)
    uploads: dict[str, _Upload] = {}
    if request.can_read_body:
        if request.content_type == "application/json":
            values.update(await _json_body(request))
        elif request.content_type == "multipart/form-data":
            await _read_multipart(request, values, uploads)
        else:
            form = await request.post()
            values.update((name, value) for name, value in form.items() if isinstance(value, str))
    return _Params(values, uploads)


async def _json_body(request: web.Request) -> JSONDict:
    try:
        body: object = json.loads(await request.read())
    except ValueError:
        raise _bad_request("can't parse request JSON object") from None
    if not isinstance(body, dict):
        raise _bad_request("can't parse request JSON object")
    return body


async def _read_multipart(
    request: web.Request, values: dict[str, object], uploads: dict[str, _Upload]
) -> None:
    # Read part by part rather than with request.post(), which spools files to disk in the loop.
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is None:
            values[part.name] = await part.text()
        else:
            uploads[part.name] = _Upload(part.filename, bytes(await part.read()))


def _visible_text(text: str, parse_mode: str | None) -> str:
    """The text a reader sees; HTML is checked the way Telegram refuses it."""
    return _html_visible_text(text) if parse_mode == "HTML" else text


def _html_visible_text(text: str) -> str:
    visible: list[str] = []
    open_tags: list[str] = []
    position = 0
    while (start := text.find("<", position)) != -1:
        visible.append(text[position:start])
        offset = len(text[:start].encode())
        tag = _HTML_TAG.match(text, start)
        name = (tag.group(2) if tag else _word_after(text, start)).lower()
        if tag is None or name not in _HTML_TAGS:
            raise _bad_request(
                f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {offset}'
            )
        if tag.group(1):
            expected = open_tags.pop() if open_tags else None
            if expected != name:
                raise _bad_request(
                    f"can't parse entities: Unmatched end tag at byte offset "
                    f'{offset}, expected "</{expected}>", found "</{name}>"'
                )
        else:
            open_tags.append(name)
        position = tag.end()
    visible.append(text[position:])
    if open_tags:
        raise _bad_request(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{open_tags[-1]}"'
        )
    return html.unescape("".join(visible))


def _word_after(text: str, start: int) -> str:
    """What follows a stray "<", for the error text ("<3" names tag "3")."""
    return re.split(r"[\s<>/]", text[start + 1 :].lstrip("/"), maxsplit=1)[0]


def _parse_mode(params: _Params) -> str | None:
    mode = params.text("parse_mode") or None
    if mode is not None and mode not in _PARSE_MODES:
        raise _bad_request("unsupported parse_mode")
    return mode


def _check_message_text(text: str | None, parse_mode: str | None) -> str:
    visible = _visible_text(text or "", parse_mode)
    if not visible.strip():
        raise _bad_request("message text is empty")
    if len(visible) > MAX_TEXT_LENGTH:
        raise _bad_request("message is too long")
    return text or ""


def _check_caption(caption: str | None, parse_mode: str | None) -> None:
    if caption and len(_visible_text(caption, parse_mode)) > MAX_CAPTION_LENGTH:
        raise _bad_request("message caption is too long")


def _reply_markup(params: _Params) -> JSONDict | None:
    markup = params.json_object("reply_markup")
    if markup is not None and "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"])
    return markup


def _check_inline_keyboard(keyboard: object) -> None:
    if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
        raise _bad_request('field "inline_keyboard" must be an Array of Arrays')
    for row in keyboard:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise _bad_request("can't parse inline keyboard button: Text must be a String")
            if "callback_data" in button:
                _check_callback_data(button["callback_data"])


def _check_callback_data(data: object) -> None:
    if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
        raise _bad_request("BUTTON_DATA_INVALID")


def _callback_data_of(markup: JSONDict | None) -> set[str]:
    keyboard = (markup or {}).get("inline_keyboard")
    rows = keyboard if isinstance(keyboard, list) else []
    return {
        button["callback_data"]
        for row in rows
        if isinstance(row, list)
        for button in row
        if isinstance(button, dict) and isinstance(button.get("callback_data"), str)
    }


def _command_entities(text: str) -> tuple[JSONDict, ...]:
    # PTB's CommandHandler matches only a bot_command entity at offset 0, as Telegram sends it.
    command = _LEADING_COMMAND.match(text)
    if command is None:
        return ()
    length = len(command.group().encode("utf-16-le")) // 2  # entity units are UTF-16 code units
    return ({"type": "bot_command", "offset": 0, "length": length},)


def _check_bot_commands(commands: list[object]) -> list[JSONDict]:
    checked: list[JSONDict] = []
    for entry in commands:
        command = entry.get("command") if isinstance(entry, dict) else None
        description = entry.get("description") if isinstance(entry, dict) else None
        if not isinstance(command, str) or not _BOT_COMMAND_NAME.fullmatch(command):
            raise _bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description) <= 256:
            raise _bad_request("command description is empty")
        checked.append({"command": command, "description": description})
    return checked


def _commands_key(params: _Params) -> str:
    scope = params.json_object("scope") or {"type": "default"}
    return json.dumps([scope, params.text("language_code") or ""], sort_keys=True)


def _now() -> int:
    return int(time.time())


def _bot_id_from(token: str) -> int:
    # A real token starts with the bot's id: "123456:ABC..." belongs to bot 123456.
    prefix = token.partition(":")[0]
    return int(prefix) if prefix.isdigit() else 1_000_001


_Endpoint = Callable[[_Params], Awaitable[object]]


@dataclass(slots=True)
class _Delivery:
    """getUpdates' queue and long-poll state."""

    updates: list[_Update] = field(default_factory=list)
    allowed: frozenset[str] | None = None  # None: Telegram's default
    poll_generation: int = 0
    webhook: _Webhook | None = None


class FakeBotApi:
    """Serve with `async with FakeBotApi(token).running() as fake:`; `fake.url` is the base."""

    def __init__(
        self,
        token: str,
        *,
        bot_id: int | None = None,
        bot_username: str = "livecart_test_bot",
        bot_first_name: str = "Livecart",
    ) -> None:
        self.token = token
        self.bot = TelegramUser(
            bot_id if bot_id is not None else _bot_id_from(token),
            bot_first_name,
            bot_username,
            is_bot=True,
        )
        self.sent: list[StoredMessage] = []
        self.edits: list[Edit] = []
        self.deleted: list[tuple[int, int]] = []
        self.answered_callbacks: dict[str, CallbackAnswer] = {}
        self.calls: list[ApiCall] = []
        self._messages: dict[tuple[int, int], StoredMessage] = {}
        self._last_message_id: dict[int, int] = {}
        self._chats: dict[int, JSONDict] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._commands: dict[str, list[JSONDict]] = {}
        self._open_queries: set[str] = set()
        self._faults: dict[str, list[_ApiError]] = {}
        self._delivery = _Delivery()
        self._update_ids = count(100_000_001)
        self._query_ids = count(4_200_000_000_000_000_001)
        self._file_numbers = count(1)
        self._changed = asyncio.Event()
        self._closing = False
        self._url: str | None = None
        self._endpoints = self._endpoint_table()

    # -- serving ------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[FakeBotApi]:
        app = web.Application(client_max_size=_MAX_REQUEST_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_call)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        # Cancel a long poll whose client hung up (PTB cancels its poll when it stops).
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            bound_host, bound_port = runner.addresses[0][:2]
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            self._url = f"http://{shown}:{bound_port}"
            yield self
        finally:
            # Let waiting long polls answer now instead of holding the shutdown for `timeout`.
            self._closing = True
            self._pulse()
            await runner.cleanup()
            self._url = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the fake Bot API is not running; use `async with fake.running()`")
        return self._url

    async def _handle_call(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error_response(_ApiError(401, "Unauthorized"))
        found = self._endpoints.get(request.match_info["method"].lower())
        if found is None:
            return _error_response(_ApiError(404, "Not Found"))
        method, endpoint = found
        try:
            params = await _read_params(request)
            self.calls.append(ApiCall(method, time.monotonic(), params.values))
            self._pulse()
            self._raise_injected_fault(method)
            result = await endpoint(params)
        except _ApiError as error:
            return _error_response(error)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error_response(_ApiError(401, "Unauthorized"))
        stored = self._files_by_path.get(request.match_info["file_path"])
        if stored is None:
            return _error_response(_ApiError(404, "Not Found"))
        return web.Response(body=stored.data, content_type="application/octet-stream")

    def _endpoint_table(self) -> dict[str, tuple[str, _Endpoint]]:
        endpoints: dict[str, _Endpoint] = {
            "getMe": self._get_me,
            "logOut": self._accept,
            "close": self._accept,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getFile": self._get_file,
        }
        # Telegram matches method names case-insensitively.
        return {name.lower(): (name, endpoint) for name, endpoint in endpoints.items()}

    # -- fault injection ----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        retry_after: int = 2,
        count: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `count` calls of `method` with an error instead of doing them.

        429 carries `parameters.retry_after` (PTB raises RetryAfter); other codes carry
        `description`, by default Telegram's wording for the code."""
        parameters: JSONDict | None = None
        if error_code == 429:
            parameters = {"retry_after": retry_after}
            description = description or f"Too Many Requests: retry after {retry_after}"
        error = _ApiError(error_code, description or _default_description(error_code), parameters)
        self._faults.setdefault(method.lower(), []).extend([error] * count)

    def _raise_injected_fault(self, method: str) -> None:
        pending = self._faults.get(method.lower())
        if pending:
            raise pending.pop(0)

    # -- people on the other side -------------------------------------------------------------

    def user_sends(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        first_name: str = "Staff",
        username: str | None = None,
    ) -> int:
        """Queue a `message` update from a person; returns its update_id."""
        sender = TelegramUser(user_id, first_name, username)
        self._remember_chat(chat_id, sender)
        message = StoredMessage(
            chat_id,
            self._next_message_id(chat_id),
            _now(),
            sender,
            text=text,
            entities=_command_entities(text),
        )
        self._messages[(chat_id, message.message_id)] = message
        return self._queue_update("message", self._message_json(message))

    def user_presses(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        first_name: str = "Staff",
        username: str | None = None,
        check_button: bool = True,
    ) -> str:
        """Queue a `callback_query` for a button on a stored message; returns the query id.

        A person can only press a button the message shows now, so a `data` the message's
        keyboard lacks raises LookupError; `check_button=False` simulates a stale client."""
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise LookupError(f"chat {chat_id} has no message {message_id}")
        if check_button and data not in _callback_data_of(message.inline_keyboard):
            raise LookupError(f"message {message_id} in chat {chat_id} has no button {data!r}")
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        query: JSONDict = {
            "id": query_id,
            "from": TelegramUser(user_id, first_name, username).to_json(),
            "message": self._message_json(message),
            "chat_instance": f"{self.bot.id}{abs(chat_id)}",
            "data": data,
        }
        self._queue_update("callback_query", query)
        return query_id

    def queue_update(self, kind: str, body: JSONDict) -> int:
        """Queue any other update kind (`edited_message`, `my_chat_member`...) as given."""
        return self._queue_update(kind, body)

    # -- inspection ---------------------------------------------------------------------------

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        """The current state of a message (after edits); KeyError once deleted or if unknown."""
        return self._messages[(chat_id, message_id)]

    @property
    def pending_update_ids(self) -> list[int]:
        """Updates not yet confirmed by a getUpdates `offset` (or webhook delivery)."""
        return [update.update_id for update in self._delivery.updates]

    @property
    def webhook_url(self) -> str | None:
        webhook = self._delivery.webhook
        return webhook.url if webhook else None

    def my_commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        key = json.dumps([scope or {"type": "default"}, language_code], sort_keys=True)
        return list(self._commands.get(key, []))

    # The wait_for helpers take a default `timeout` (ASYNC109) so that a test never hangs.
    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5,  # noqa: ASYNC109
    ) -> None:
        """Wait until `predicate()` holds, re-checking after each request and recorded change."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            recent = [call.method for call in self.calls[-8:]]
            raise TimeoutError(
                f"condition not met within {timeout}s; last calls {recent}, "
                f"{len(self.sent)} sent, {len(self.edits)} edits"
            ) from None

    async def wait_for_sent(
        self,
        chat_id: int | None = None,
        *,
        count: int = 1,
        timeout: float = 5,  # noqa: ASYNC109
    ) -> StoredMessage:
        """The `count`-th message sent to `chat_id` (to any chat when None), once it is sent."""

        def matching() -> list[StoredMessage]:
            return [m for m in self.sent if chat_id is None or m.chat_id == chat_id]

        await self.wait_for(lambda: len(matching()) >= count, timeout)
        return matching()[count - 1]

    async def wait_for_edit(
        self,
        chat_id: int,
        message_id: int,
        *,
        count: int = 1,
        timeout: float = 5,  # noqa: ASYNC109
    ) -> Edit:
        def matching() -> list[Edit]:
            return [e for e in self.edits if (e.chat_id, e.message_id) == (chat_id, message_id)]

        await self.wait_for(lambda: len(matching()) >= count, timeout)
        return matching()[count - 1]

    async def wait_for_answer(
        self,
        query_id: str,
        timeout: float = 5,  # noqa: ASYNC109
    ) -> CallbackAnswer:
        await self.wait_for(lambda: query_id in self.answered_callbacks, timeout)
        return self.answered_callbacks[query_id]

    async def wait_for_call(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 5,  # noqa: ASYNC109
    ) -> ApiCall:
        def matching() -> list[ApiCall]:
            return [call for call in self.calls if call.method.lower() == method.lower()]

        await self.wait_for(lambda: len(matching()) >= count, timeout)
        return matching()[count - 1]

    # -- webhook mode -------------------------------------------------------------------------

    @staticmethod
    async def post_update_to(
        url: str, secret_token: str | None, update: Mapping[str, object]
    ) -> int:
        """POST one update to a bot's webhook as Telegram's servers do; returns the status."""
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers[SECRET_TOKEN_HEADER] = secret_token
        async with (
            ClientSession() as http,
            http.post(url, data=json.dumps(dict(update)), headers=headers) as response,
        ):
            await response.read()
            return response.status

    async def deliver_webhook_updates(self) -> int:
        """POST pending updates in order to the webhook set by setWebhook; an update leaves the
        queue only once the bot answers 2xx, as with Telegram. Returns how many were delivered."""
        webhook = self._delivery.webhook
        if webhook is None:
            raise RuntimeError("no webhook is set (the bot has not called setWebhook)")
        delivered = 0
        while self._delivery.updates:
            update = self._delivery.updates[0]
            status = await self.post_update_to(webhook.url, webhook.secret_token, update.to_json())
            if not 200 <= status < 300:
                break
            with suppress(ValueError):  # dropped meanwhile by deleteWebhook
                self._delivery.updates.remove(update)
            delivered += 1
        return delivered

    # -- endpoints: bot and webhook -----------------------------------------------------------

    async def _get_me(self, params: _Params) -> JSONDict:
        return {
            **self.bot.to_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _accept(self, params: _Params) -> bool:
        return True

    async def _set_webhook(self, params: _Params) -> bool:
        url = params.text("url")
        if url is None:
            raise _bad_request('parameter "url" is required')
        self._set_allowed_updates(params)
        if params.flag("drop_pending_updates"):
            self._delivery.updates.clear()
        # An empty url removes the webhook, as Telegram does.
        self._delivery.webhook = _Webhook(url, params.text("secret_token")) if url else None
        self._pulse()
        return True

    async def _delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._delivery.updates.clear()
        self._delivery.webhook = None
        self._pulse()
        return True

    async def _get_webhook_info(self, params: _Params) -> JSONDict:
        delivery = self._delivery
        info: JSONDict = {
            "url": delivery.webhook.url if delivery.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(delivery.updates),
        }
        if delivery.allowed is not None:
            info["allowed_updates"] = sorted(delivery.allowed)
        return info

    # -- endpoints: getUpdates ----------------------------------------------------------------

    async def _get_updates(self, params: _Params) -> list[JSONDict]:
        delivery = self._delivery
        if delivery.webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        self._confirm_up_to(params.integer("offset"))
        self._set_allowed_updates(params)
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = max(params.integer("timeout") or 0, 0)
        # A newer getUpdates ends an older one still waiting, as on Telegram (two bot instances).
        delivery.poll_generation += 1
        self._pulse()
        deadline = asyncio.get_running_loop().time() + timeout
        await self._wait_for_updates(deadline, delivery.poll_generation)
        return [update.to_json() for update in delivery.updates[:limit]]

    async def _wait_for_updates(self, deadline: float, generation: int) -> None:
        while not self._delivery.updates and not self._closing:
            if generation != self._delivery.poll_generation:
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            try:
                async with asyncio.timeout_at(deadline):
                    await self._changed.wait()
            except TimeoutError:
                return

    def _confirm_up_to(self, offset: int | None) -> None:
        updates = self._delivery.updates
        if offset is None:
            return
        if offset < 0:  # Telegram: keep only the last -offset updates, forget the rest
            del updates[: max(len(updates) + offset, 0)]
        else:
            updates[:] = [update for update in updates if update.update_id >= offset]

    def _set_allowed_updates(self, params: _Params) -> None:
        # Omitted keeps the previous choice; an empty list goes back to Telegram's default.
        kinds = params.json_list("allowed_updates")
        if kinds is not None:
            chosen = frozenset(str(kind) for kind in kinds)
            self._delivery.allowed = chosen or None

    def _accepts(self, kind: str) -> bool:
        allowed = self._delivery.allowed
        return kind not in _OPT_IN_UPDATES if allowed is None else kind in allowed

    def _queue_update(self, kind: str, body: JSONDict) -> int:
        update_id = next(self._update_ids)
        # Telegram does not store updates of kinds the bot did not ask for.
        if self._accepts(kind):
            self._delivery.updates.append(_Update(update_id, kind, body))
            self._pulse()
        return update_id

    # -- endpoints: messages ------------------------------------------------------------------

    async def _send_message(self, params: _Params) -> JSONDict:
        chat_id = self._chat_id(params)
        parse_mode = _parse_mode(params)
        text = _check_message_text(params.text("text"), parse_mode)
        message = StoredMessage(
            chat_id,
            self._next_message_id(chat_id),
            _now(),
            self.bot,
            text=text,
            parse_mode=parse_mode,
            reply_markup=_reply_markup(params),
        )
        return self._record_sent(message)

    async def _send_photo(self, params: _Params) -> JSONDict:
        chat_id = self._chat_id(params)
        photo = self._photo_file(params)
        parse_mode = _parse_mode(params)
        caption = params.text("caption")
        _check_caption(caption, parse_mode)
        message = StoredMessage(
            chat_id,
            self._next_message_id(chat_id),
            _now(),
            self.bot,
            parse_mode=parse_mode,
            reply_markup=_reply_markup(params),
            photo=photo.data,
            photo_file_id=photo.file_id,
            caption=caption or None,
        )
        return self._record_sent(message)

    def _photo_file(self, params: _Params) -> _StoredFile:
        upload = params.upload("photo")
        if upload is not None:
            if not upload.data:
                raise _bad_request("file must be non-empty")
            return self._store_file(upload.data)
        reference = params.text("photo")
        if reference is None:
            raise _bad_request("there is no photo in the request")
        known = self._files.get(reference)
        if known is None:  # URLs are not fetched: the fake has no network
            raise _bad_request("wrong file identifier/HTTP URL specified")
        return known

    def _store_file(self, data: bytes) -> _StoredFile:
        number = next(self._file_numbers)
        stored = _StoredFile(
            f"fake-photo-{number}", f"fake-unique-{number}", f"photos/file_{number}.jpg", data
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    async def _get_file(self, params: _Params) -> JSONDict:
        stored = self._files.get(params.text("file_id") or "")
        if stored is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    def _record_sent(self, message: StoredMessage) -> JSONDict:
        self._messages[(message.chat_id, message.message_id)] = message
        self.sent.append(message)
        self._pulse()
        return self._message_json(message)

    async def _edit_message_text(self, params: _Params) -> JSONDict:
        current = self._editable_message(params)
        if current.text is None:
            raise _bad_request("there is no text in the message to edit")
        parse_mode = _parse_mode(params)
        text = _check_message_text(params.text("text"), parse_mode)
        # Omitting reply_markup removes the inline keyboard: that is Telegram's behaviour.
        markup = _reply_markup(params)
        if (text, parse_mode, markup) == (
            current.text,
            current.parse_mode,
            current.inline_keyboard,
        ):
            raise _bad_request(_NOT_MODIFIED)
        edited = replace(current, text=text, parse_mode=parse_mode, reply_markup=markup)
        return self._record_edit("editMessageText", edited, new_text=text)

    async def _edit_message_reply_markup(self, params: _Params) -> JSONDict:
        current = self._editable_message(params)
        markup = _reply_markup(params)
        if markup == current.inline_keyboard:
            raise _bad_request(_NOT_MODIFIED)
        return self._record_edit("editMessageReplyMarkup", replace(current, reply_markup=markup))

    def _editable_message(self, params: _Params) -> StoredMessage:
        if params.text("inline_message_id"):
            raise _bad_request("inline messages are not supported by the fake Bot API")
        chat_id = self._chat_id(params)
        message_id = params.integer("message_id")
        current = self._messages.get((chat_id, message_id or 0))
        if current is None:
            raise _bad_request("message to edit not found")
        if current.sender != self.bot:
            raise _bad_request("message can't be edited")
        return current

    def _record_edit(
        self, method: str, edited: StoredMessage, *, new_text: str | None = None
    ) -> JSONDict:
        edited = replace(edited, edit_date=_now())
        self._messages[(edited.chat_id, edited.message_id)] = edited
        self.edits.append(
            Edit(edited.chat_id, edited.message_id, method, new_text, edited.inline_keyboard)
        )
        self._pulse()
        return self._message_json(edited)

    async def _delete_message(self, params: _Params) -> bool:
        key = (self._chat_id(params), params.integer("message_id") or 0)
        if self._messages.pop(key, None) is None:
            raise _bad_request("message to delete not found")
        self.deleted.append(key)
        self._pulse()
        return True

    async def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.text("callback_query_id") or ""
        if query_id not in self._open_queries:
            raise _bad_request(_QUERY_INVALID)
        self._open_queries.discard(query_id)
        self.answered_callbacks[query_id] = CallbackAnswer(
            query_id, params.text("text"), params.flag("show_alert"), params.text("url")
        )
        self._pulse()
        return True

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.json_list("commands")
        if commands is None:
            raise _bad_request('parameter "commands" is required')
        self._commands[_commands_key(params)] = _check_bot_commands(commands)
        return True

    async def _get_my_commands(self, params: _Params) -> list[JSONDict]:
        return list(self._commands.get(_commands_key(params), []))

    async def _delete_my_commands(self, params: _Params) -> bool:
        self._commands.pop(_commands_key(params), None)
        return True

    # -- chats and messages -------------------------------------------------------------------

    def _chat_id(self, params: _Params) -> int:
        value = params.values.get("chat_id")
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        try:
            chat_id = params.integer("chat_id")
        except _ApiError:
            chat_id = None  # "@channelname": the fake knows no public usernames
        if chat_id is None or chat_id == 0:
            raise _bad_request("chat not found")
        return chat_id

    def _next_message_id(self, chat_id: int) -> int:
        # Ids count per chat, shared by people's and the bot's messages, as in private chats.
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _remember_chat(self, chat_id: int, person: TelegramUser) -> None:
        if chat_id > 0 and chat_id not in self._chats:
            self._chats[chat_id] = {"id": chat_id, "type": "private", **_names_of(person)}

    def _chat_json(self, chat_id: int) -> JSONDict:
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
        return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}

    def _message_json(self, message: StoredMessage) -> JSONDict:
        body: JSONDict = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self._chat_json(message.chat_id),
            "from": message.sender.to_json(),
        }
        if message.text is not None:
            # Telegram answers with the text as read, markup turned into (omitted) entities.
            body["text"] = _visible_text(message.text, message.parse_mode)
        if message.entities:
            body["entities"] = list(message.entities)
        if message.photo_file_id is not None:
            body["photo"] = [self._photo_size(message.photo_file_id)]
        if message.caption is not None:
            body["caption"] = _visible_text(message.caption, message.parse_mode)
        if message.inline_keyboard is not None:
            body["reply_markup"] = message.inline_keyboard
        if message.edit_date is not None:
            body["edit_date"] = message.edit_date
        return body

    def _photo_size(self, file_id: str) -> JSONDict:
        stored = self._files[file_id]
        # Dimensions are not decoded from the image: nothing in livecart reads them.
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": 800,
            "height": 800,
            "file_size": len(stored.data),
        }

    def _pulse(self) -> None:
        """Wake every waiter (long polls, wait_for) to re-check; later waiters get a new event."""
        self._changed.set()
        self._changed = asyncio.Event()


def _names_of(person: TelegramUser) -> JSONDict:
    names: JSONDict = {"first_name": person.first_name}
    if person.username is not None:
        names["username"] = person.username
    return names


def _default_description(error_code: int) -> str:
    known = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }
    return known.get(error_code, f"Error {error_code}")


def _error_response(error: _ApiError) -> web.Response:
    return web.json_response(error.to_json(), status=error.error_code)
