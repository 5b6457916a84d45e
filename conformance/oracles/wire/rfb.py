"""RFB (noVNC) in the neutral wire model: an adapter over :mod:`conformance.oracles.rfb`, which does the parsing.

The RFB parser keeps per-kind lists (cut texts, key events) and counters for the rest; this adapter maps
them without re-parsing:

- ClientCutText / ServerCutText → kind "clipboard"; Extended Clipboard messages are named with their
  action ("ServerCutText:provide", "ClientCutText:caps", …) and carry data only for plain and provide;
- KeyEvent and the QEMU extended key event → kind "input", name "KeyEvent", ``text`` the character of a
  press (no stream offset is known for them: ``index`` -1);
- pointer events, framebuffer updates and the other messages are only counted by the parser: the counts
  go into ``notes`` and ``detail``, not into messages.

``index`` of a cut text is the recorded WebSocket message its first byte arrived in. ``detail`` is the
parser's own summary (desktop name, security type, message counts, …) for evidence.
"""

from __future__ import annotations

from conformance.oracles import rfb
from conformance.oracles.wire import Direction, Stream, WireMessage, WireModel, streams


def _cut_messages(cuts: list[rfb.CutText], direction: Direction, base: str, stream: Stream) -> list[WireMessage]:
    out = []
    for cut in cuts:
        name = f"{base}:{cut.action}" if cut.extended else base
        index = stream.message_at(cut.offset) if cut.offset >= 0 else -1
        out.append(WireMessage(direction, "clipboard", name, cut.data, cut.text, index, cut.carries_data))
    return out


def decode(messages: list[tuple[Direction, bytes]]) -> WireModel:
    report = rfb.parse_messages(messages)
    by_direction = streams(messages)
    out: list[WireMessage] = []
    for ev in report.key_events:
        text = ev.char if ev.down and ev.char is not None else ""
        out.append(WireMessage("from_client", "input", "KeyEvent", text=text))
    cuts = (_cut_messages(report.client_cut_texts, "from_client", "ClientCutText", by_direction["from_client"])
            + _cut_messages(report.server_cut_texts, "from_server", "ServerCutText", by_direction["from_server"]))
    out += sorted(cuts, key=lambda m: m.index)
    notes = list(report.notes)
    if report.client_messages:
        notes.append(f"client messages: {dict(report.client_messages)} (parse: {report.client_parse})")
    if report.server_messages:
        notes.append(f"server messages: {dict(report.server_messages)} (parse: {report.server_parse})")
    if report.pointer_event_count:
        notes.append(f"{report.pointer_event_count} pointer event(s)")
    if report.rect_encodings:
        notes.append(f"framebuffer rectangles by encoding: {dict(report.rect_encodings)}")
    detail = {**report.summary(), "client_messages": dict(report.client_messages),
              "server_messages": dict(report.server_messages), "framebuffer_size": report.framebuffer_size,
              "encodings_offered": list(report.encodings_offered)}
    return WireModel("rfb", report.decodable, out, list(report.decode_errors), notes, report.typed_text,
                     list(messages), detail)
