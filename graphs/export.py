"""Write a computation DAG as GraphML (networkx) or DOT (Graphviz text, written here).

Every node and edge attribute of :mod:`graphs.builders` is a str, int or bool, so both
formats keep them; in DOT, skip edges are dashed and labelled with their block index, so a
drawn path reads off its subset S of [n].
"""

import networkx as nx

__all__ = ["to_dot", "write_dot", "write_graphml"]


def write_graphml(graph: nx.DiGraph, path) -> None:
    """Write ``graph`` (with its node, edge and graph attributes) to the GraphML file ``path``."""
    nx.write_graphml(graph, path)


def _quote(value) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def to_dot(graph: nx.DiGraph) -> str:
    """The DOT text of ``graph``: left-to-right, stream nodes boxed, skip edges dashed.

    >>> from graphs.builders import tower
    >>> print(to_dot(tower(1)), end="")
    digraph "tower" {
      rankdir=LR;
      "x0" [shape=box, kind="stream", block="0"];
      "x1" [shape=box, kind="stream", block="1"];
      "f1.1.1" [shape=ellipse, kind="layer", block="1", branch="1", layer="1", name="f"];
      "x0" -> "x1" [style=dashed, label="1", block="1", kind="skip", blocks="0", layers="0"];
      "x0" -> "f1.1.1" [style=solid, label="1", block="1", kind="branch", blocks="1", layers="1"];
      "f1.1.1" -> "x1" [style=solid, label="1", block="1", kind="branch", blocks="0", layers="0"];
    }
    """
    lines = [f"digraph {_quote(graph.graph.get('arch', 'residual'))} {{", "  rankdir=LR;"]
    for node, data in graph.nodes(data=True):
        shape = "box" if data.get("kind") == "stream" else "ellipse"
        attrs = [f"shape={shape}"] + [f"{k}={_quote(v)}" for k, v in data.items()]
        lines.append(f"  {_quote(node)} [{', '.join(attrs)}];")
    for u, v, data in graph.edges(data=True):
        style = "dashed" if data.get("kind") == "skip" else "solid"
        attrs = [f"style={style}", f"label={_quote(data.get('block', ''))}"]
        attrs += [f"{k}={_quote(val)}" for k, val in data.items()]
        lines.append(f"  {_quote(u)} -> {_quote(v)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_dot(graph: nx.DiGraph, path) -> None:
    """Write :func:`to_dot` of ``graph`` to the file ``path``."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(to_dot(graph))
