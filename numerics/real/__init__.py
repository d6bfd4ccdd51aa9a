"""numerics' real-model room: tracing any ``nn.Module`` (torch.export, then torch.fx), its residual
stream and blocks, the frozen-gate rules and the exact path decomposition at an actual input (R2),
and the theory's probes on a traced model.
"""
