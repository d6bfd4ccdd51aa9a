"""Second streams: tensors other than the residual stream that the blocks read (R2, real
architectures).

A decoder's cross-attention reads the encoder's output. Decomposed as the decoder alone (the
encoder output ``encoder_hidden_states`` an input of the traced call), that output is a second
stream held fixed: with the attention pattern frozen, a cross-attention branch
P(q(x), k(e)) e W_v W_o is a constant of the frozen maps (it rides on the bias coordinate), so the
decoder's stream splits exactly into its paths, and the note names the input and the modules
that read it (:func:`second_stream_notes`). The encoder's own paths are not split.

Traced as one encoder-decoder model, the blocks would read a tensor computed inside the graph
by a residual stack of its own, and which of the two stacks is "the" stream is a choice the
tracer must not make silently (it would follow whichever path joins input to output, e.g. the
encoder into the last cross-attention): :func:`refuse_internal_streams` says so in one line.
"""

from numerics.real.dtypes import module_path

__all__ = ["refuse_internal_streams", "second_stream_notes"]

_ADDS = {"aten.add.Tensor", "aten.add_.Tensor", "add", "iadd"}


def _closure(starts, step) -> set:
    seen, todo = set(), list(starts)
    while todo:
        node = todo.pop()
        for nxt in step(node):
            if nxt.name not in seen:
                seen.add(nxt.name)
                todo.append(nxt)
    return seen


def _readers(nodes, on: set, limit: int = 6) -> str:
    modules = sorted({module_path(n) for n in nodes if n.name in on and module_path(n)})
    return ", ".join(modules[:limit]) + (", ..." if len(modules) > limit else "")


def second_stream_notes(captured, on: set) -> list[str]:
    """A note per floating input other than the stream's source that the blocks read: it is
    held fixed, a constant of the frozen maps (the module docstring)."""
    notes = []
    for name, value in captured.inputs.items():
        if name == captured.source or not getattr(value, "is_floating_point", lambda: False)():
            continue
        node = captured.node(name)
        reached = _closure([node], lambda n: [u for u in n.users if u.name not in on])
        direct = [u for n in captured.graph.nodes if n.name in reached | {name}
                  for u in n.users if u.name in on]
        if direct:
            notes.append(f"second stream: the input {name} is read by "
                         f"{_readers(direct, on) or 'the blocks'} (cross-attention); it is held "
                         "fixed, a constant of the frozen maps: its own paths are not split, and "
                         "what the branches draw from it rides on their bias coordinate")
    return notes


def refuse_internal_streams(captured, structure, on: set) -> None:
    """Raise ``ValueError`` (one line) when the blocks read a tensor that a residual stack
    outside the traced stream computed from the model's inputs (an encoder's output inside an
    encoder-decoder): an add of two input-dependent tensors off the stream and off the path
    into the first block, whose result reaches a block's node."""
    first = structure.pieces[structure.block_positions()[0]].start
    inputs = [captured.node(name) for name in captured.inputs]
    depends = _closure(inputs, lambda n: n.users) | {n.name for n in inputs}
    before = _closure([first], lambda n: n.all_input_nodes) | {first.name}
    adds = [n for n in captured.graph.nodes
            if n.op == "call_function" and str(n.target).replace("<built-in function ", "")
            .rstrip(">") in _ADDS and n.name not in on and n.name not in before
            and n.name in depends and len(n.all_input_nodes) == 2
            and all(a.name in depends for a in n.all_input_nodes)]
    if not adds:
        return
    outside = _closure(adds, lambda n: [u for u in n.users if u.name not in on]) | {
        a.name for a in adds}
    readers = [n for n in captured.graph.nodes if n.name in on
               and any(a.name in outside for a in n.all_input_nodes)]
    if readers:
        raise ValueError(
            f"cannot decompose {captured.model_name}: its blocks ({_readers(readers, on)}) read "
            "a second residual stream computed inside the model (an encoder-decoder's encoder "
            "output), and which stack is the stream would be a silent choice; trace the decoder "
            "alone with the encoder output as an input (model.get_decoder(), "
            "encoder_hidden_states=...): it is then held fixed and noted")


