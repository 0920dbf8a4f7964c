"""A minimal Streamlit protocol client: what a browser tab sends and receives, without the browser.

It opens ``/_stcore/stream`` (websocket subprotocol ``streamlit``), sends
``BackMsg.rerun_script`` with the page name and the full set of widget states
(as the frontend does on every interaction, with ``fragment_id`` set when the
widget lives in an ``st.fragment``), and reads ``ForwardMsg``s until
``script_finished``. The time from send to ``script_finished`` is the server
time of one interaction, plus a localhost round trip.

Like the browser, it keeps Streamlit's message cache: every message the server
marks ``cacheable`` (an element of 10 KB or more, e.g. a figure) is kept by its
hash, the hashes go back with each rerun request (``cached_message_hashes``),
and the server then sends a ``ref_hash`` instead of a figure the tab already
has. An entry unused for more than ``CACHE_AGE`` full runs is dropped
(Streamlit's ``global.maxCachedMessageAge``); a fragment's run ages nothing, as
the rest of the page stays on screen. ``Run.bytes`` counts what came over the wire.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

CACHE_AGE = 2  # finished runs an unused cached message is kept (Streamlit's global.maxCachedMessageAge)
WIDGET_TYPES = {"checkbox", "slider", "selectbox", "radio", "number_input", "text_input", "text_area",
                "multiselect", "button_group"}


@dataclass
class Widget:
    id: str
    type: str
    proto: Any
    fragment_id: str
    container: int = 0  # root container: 0 main area, 1 sidebar

    @property
    def key(self) -> str:
        # element ids look like "$$ID-<hash>-<user key>"
        parts = self.id.split("-", 2)
        return parts[2] if len(parts) == 3 and parts[2] != "None" else ""

    @property
    def label(self) -> str:
        return getattr(self.proto, "label", "")


@dataclass
class Run:
    seconds: float
    status: str
    messages: list = field(default_factory=list)  # references already replaced by the cached message
    page_not_found: bool = False
    wire_bytes: int = 0
    references: int = 0  # messages the server sent as a reference to the tab's cache

    def elements(self):
        for m in self.messages:
            if m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element":
                yield m, m.delta.new_element

    def figures(self) -> list[str]:
        return [el.plotly_chart.spec for _, el in self.elements() if el.WhichOneof("type") == "plotly_chart"]

    def exceptions(self) -> list[str]:
        return [f"{el.exception.type}: {el.exception.message}" for _, el in self.elements()
                if el.WhichOneof("type") == "exception"]

    def errors(self) -> list[str]:
        return [el.alert.body for _, el in self.elements()
                if el.WhichOneof("type") == "alert" and el.alert.format == 1]  # ERROR

    def bytes(self) -> int:
        """Bytes received over the websocket for this run (cached messages came as references)."""
        return self.wire_bytes


def _has(p, name: str) -> bool:
    try:
        return p.HasField(name)
    except ValueError:  # a proto3 scalar without presence
        return False


def default_state(w: Widget) -> WidgetState | None:
    """The widget state a browser sends for a widget it has just rendered."""
    p, ws = w.proto, WidgetState(id=w.id)
    t = w.type
    if t == "checkbox":
        ws.bool_value = p.value if p.set_value else p.default
    elif t == "slider":
        vals = list(p.value) if p.set_value else list(p.default)
        if p.options:  # select_slider: labels
            ws.string_array_value.data[:] = [p.options[int(i)] for i in vals]
        else:
            ws.double_array_value.data[:] = vals
    elif t in ("selectbox", "radio"):
        if p.set_value and _has(p, "raw_value"):
            ws.string_value = p.raw_value
        elif p.options and _has(p, "default"):
            ws.string_value = p.options[int(p.default)]
        else:
            return None
    elif t == "number_input":
        ws.double_value = p.value if p.set_value else p.default
    elif t in ("text_input", "text_area"):
        ws.string_value = p.value if p.set_value and _has(p, "value") else p.default
    elif t == "multiselect":
        ws.string_array_value.data[:] = [p.options[int(i)] for i in p.default]
    elif t == "button_group":
        ws.string_array_value.data[:] = [p.options[int(i)].content for i in p.default]
    else:
        return None
    return ws


def moves(w: Widget, n: int = 3) -> list[WidgetState]:
    """Up to ``n`` new, distinct, valid states for one widget (what a user's next clicks send)."""
    cur = default_state(w)
    if cur is None:
        return []
    p, t, out = w.proto, w.type, []
    if t == "checkbox":
        out.append(WidgetState(id=w.id, bool_value=not cur.bool_value))
    elif t == "slider" and not p.options:
        vals = list(cur.double_array_value.data)
        step = p.step or 1
        for k in range(1, n + 1):
            hi = vals[-1] + k * step
            new = vals[:-1] + [hi if hi <= p.max else vals[-1] - k * step]
            if p.min <= new[-1] <= p.max and (len(new) == 1 or new[0] <= new[1]):
                ws = WidgetState(id=w.id)
                ws.double_array_value.data[:] = new
                out.append(ws)
    elif t == "slider":  # select_slider
        i = list(p.options).index(cur.string_array_value.data[-1])
        for k in range(1, min(n, len(p.options) - 1) + 1):
            ws = WidgetState(id=w.id)
            ws.string_array_value.data[:] = [p.options[(i + k) % len(p.options)]]
            out.append(ws)
    elif t in ("selectbox", "radio"):
        opts = list(p.options)
        i = opts.index(cur.string_value) if cur.string_value in opts else 0
        for k in range(1, min(n, len(opts) - 1) + 1):
            out.append(WidgetState(id=w.id, string_value=opts[(i + k) % len(opts)]))
    elif t == "number_input":
        step = p.step or 1
        for k in range(1, n + 1):
            v = cur.double_value + k * step
            if p.has_max and v > p.max:
                v = cur.double_value - k * step
            if (not p.has_min or v >= p.min) and (not p.has_max or v <= p.max):
                out.append(WidgetState(id=w.id, double_value=v))
    elif t in ("text_input", "text_area"):
        words = cur.string_value.split()
        variants = [" ".join(reversed(words)), " ".join(words[1:] + words[:1]), cur.string_value + " again"]
        for v in variants[:n]:
            if v and v != cur.string_value:
                out.append(WidgetState(id=w.id, string_value=v))
    elif t in ("multiselect", "button_group"):
        labels = [o.content for o in p.options] if t == "button_group" else list(p.options)
        chosen = list(cur.string_array_value.data)
        for lab in [o for o in labels if o not in chosen][:n]:
            ws = WidgetState(id=w.id)
            single = t == "button_group" and p.click_mode == 0  # SINGLE_SELECT
            ws.string_array_value.data[:] = [lab] if single else chosen + [lab]
            out.append(ws)
    return out


class Session:
    """One browser-tab-like session on a running Streamlit server."""

    def __init__(self, base_url: str, quickack: bool = True):
        self.quickack = quickack
        self.url = base_url.replace("http://", "ws://").replace("https://", "wss://") + "/_stcore/stream"
        self.ws = None
        self.page_name = ""
        self.page_script_hash = ""
        self.widgets: dict[str, Widget] = {}
        self.states: dict[str, WidgetState] = {}
        self.cache: dict[str, list] = {}  # message hash -> [ForwardMsg, finished runs since last use]

    async def __aenter__(self):
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None,
                                           open_timeout=60, ping_interval=None)
        if self.quickack:
            self._ack_every_read()
        return self

    def _ack_every_read(self) -> None:
        """Acknowledge every TCP segment at once (Linux TCP_QUICKACK, re-armed on each read).

        The server socket does not set TCP_NODELAY: after the first small message of a run,
        Nagle holds the rest until this client's delayed ACK (~40 ms on Linux). Without this,
        every run measures >= 44 ms even for a one-line script; with it, ~5 ms.
        """
        sock = self.ws.transport.get_extra_info("socket")
        if sock is None or not hasattr(socket, "TCP_QUICKACK"):
            return
        proto = self.ws.transport.get_protocol()
        received = proto.data_received

        def data_received(data):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            except OSError:
                pass
            return received(data)

        proto.data_received = data_received

    async def __aexit__(self, *exc):
        await self.ws.close()

    async def _run(self, client_state_fill, timeout: float) -> Run:
        bm = BackMsg()
        client_state_fill(bm.rerun_script)
        full_run = not bm.rerun_script.fragment_id
        bm.rerun_script.cached_message_hashes.extend(self.cache)
        t0 = time.perf_counter()
        await self.ws.send(bm.SerializeToString())
        msgs, not_found, wire, refs = [], False, 0, 0
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout=timeout)
            wire += len(raw)
            fm = ForwardMsg()
            fm.ParseFromString(raw)
            kind = fm.WhichOneof("type")
            if kind == "ref_hash":
                fm, refs = self._from_cache(fm), refs + 1
                kind = fm.WhichOneof("type")
            elif fm.metadata.cacheable:
                self.cache[fm.hash] = [fm, 0]
            if kind == "script_finished":
                dt = time.perf_counter() - t0
                status = ForwardMsg.ScriptFinishedStatus.Name(fm.script_finished)
                run = Run(dt, status, msgs, not_found, wire, refs)
                if full_run:
                    self._age_cache()
                self._learn(run)
                return run
            if kind == "page_not_found":
                not_found = True
            if kind == "navigation":
                self.page_script_hash = fm.navigation.page_script_hash
            msgs.append(fm)

    def _from_cache(self, ref: ForwardMsg) -> ForwardMsg:
        """The cached message a reference points to, placed where the reference says."""
        entry = self.cache.get(ref.ref_hash)
        if entry is None:
            raise RuntimeError(f"the server referred to message {ref.ref_hash}, which this tab never cached")
        entry[1] = 0
        msg = ForwardMsg()
        msg.CopyFrom(entry[0])
        msg.metadata.CopyFrom(ref.metadata)
        return msg

    def _age_cache(self) -> None:
        for h in list(self.cache):
            self.cache[h][1] += 1
            if self.cache[h][1] > CACHE_AGE:
                del self.cache[h]

    def _learn(self, run: Run) -> None:
        for m, el in run.elements():
            t = el.WhichOneof("type")
            if t in WIDGET_TYPES:
                p = getattr(el, t)
                w = Widget(p.id, t, p, m.delta.fragment_id, m.metadata.delta_path[0])
                first = p.id not in self.widgets
                self.widgets[p.id] = w
                if first:
                    st = default_state(w)
                    if st is not None:
                        self.states[p.id] = st

    async def open(self, page_name: str, query_string: str = "", timeout: float = 120) -> Run:
        """Load a page as a browser does for the address ``/<page_name>?<query_string>``."""
        self.page_name = page_name

        def fill(cs):
            cs.query_string = query_string
            cs.page_name = page_name
        return await self._run(fill, timeout)

    async def change(self, state: WidgetState, *, fragment: bool = True, timeout: float = 120) -> Run:
        """Send one widget change (with every other widget's state), as the frontend does."""
        self.states[state.id] = state
        w = self.widgets.get(state.id)
        frag = w.fragment_id if (w and fragment) else ""

        def fill(cs):
            cs.page_script_hash = self.page_script_hash
            cs.page_name = self.page_name
            cs.widget_states.widgets.extend(self.states.values())
            if frag:
                cs.fragment_id = frag
        return await self._run(fill, timeout)

    async def rerun(self, timeout: float = 120) -> Run:
        """A full rerun with unchanged widgets (what 'R' in the browser does)."""

        def fill(cs):
            cs.page_script_hash = self.page_script_hash
            cs.page_name = self.page_name
            cs.widget_states.widgets.extend(self.states.values())
        return await self._run(fill, timeout)
