"""The computation DAG of a traced real model, from a plain description of its blocks (R1, R4).

Tracing needs torch and lives in numerics (``numerics.real.tracing``, ``numerics.real.residual_graph``);
this module receives its result as plain data, so graphs/ never imports torch::

    {"arch": "BertModel", "method": "torch.export", "stem": [...], "head": [...],
     "opaque": [...],
     "blocks": [{"index": 1, "module": "encoder.layer.0.attention.output",
                 "gate": "layer_norm", "skip": "identity" | "scaled" | "projection",
                 "skip_name": "skip" | "downsample",
                 "branches": [{"name": "attention", "layers": 2}, ...]}, ...]}

:func:`dag_from_description` builds :func:`graphs.builders.residual_dag` from it and names
every node after what it is: branch layer nodes ``{branch}{i}.{b}.{j}`` with the branch's own
module name (``attention``, ``mlp``, ``intermediate``), a projection node only for a shortcut
that carries weights (identity and scaled skips stay edges) with its module name, and each
stream node's gate G_i (``layer_norm`` for post-LN, ``relu`` after the add, ``identity``).
"""

import networkx as nx

from graphs.builders import BlockSpec, residual_dag

__all__ = ["block_specs", "dag_from_description"]


def _check(description) -> list:
    if not isinstance(description, dict) or not isinstance(description.get("blocks"), list):
        raise ValueError("description must be a dict with a list under 'blocks'")
    for i, block in enumerate(description["blocks"], 1):
        branches = block.get("branches") if isinstance(block, dict) else None
        if not branches or not all(isinstance(b, dict) for b in branches):
            raise ValueError(f"block {i} of the description has no branches")
    return description["blocks"]


def block_specs(description: dict) -> list[BlockSpec]:
    """One :class:`BlockSpec` per described block (branches, their layer counts, projection)."""
    return [BlockSpec(branches=len(block["branches"]),
                      depth=tuple(int(b.get("layers", 1)) for b in block["branches"]),
                      projection=block.get("skip") == "projection",
                      name=str(block["branches"][0].get("name") or "f"))
            for block in _check(description)]


def dag_from_description(description: dict) -> nx.DiGraph:
    """The residual DAG of a described model, its nodes named after its modules.

    >>> g = dag_from_description({"arch": "toy", "blocks": [
    ...     {"skip": "identity", "gate": "identity",
    ...      "branches": [{"name": "attn", "layers": 1}, {"name": "mlp", "layers": 2}]}]})
    >>> sorted(n for n in g if n.startswith(("attn", "mlp")))
    ['attn1.1.1', 'mlp1.2.1', 'mlp1.2.2']
    """
    specs = block_specs(description)
    graph = residual_dag(specs, arch=str(description.get("arch", "traced")))
    mapping = {}
    for i, (spec, block) in enumerate(zip(specs, description["blocks"]), 1):
        for b, branch in enumerate(block["branches"], 1):
            name = str(branch.get("name") or "f")
            for j in range(1, spec.depths[b - 1] + 1):
                old = f"{spec.name}{i}.{b}.{j}"
                mapping[old] = f"{name}{i}.{b}.{j}"
                graph.nodes[old]["name"] = name
        graph.nodes[f"x{i}"]["gate"] = str(block.get("gate", "identity"))
        if spec.projection:
            graph.nodes[f"p{i}"]["name"] = str(block.get("skip_name") or "projection")
        if block.get("module"):
            graph.nodes[f"x{i}"]["module"] = str(block["module"])
    graph = nx.relabel_nodes(graph, mapping)
    for key in ("method",):
        graph.graph[key] = str(description.get(key, ""))
    graph.graph["opaque"] = ",".join(description.get("opaque", []))
    return graph
