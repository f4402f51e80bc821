"""What every layer shares and nothing else: the error tree, secret redaction, and stop requests.

``core`` imports nothing of the project. ``sources`` (extraction), ``transforms`` (SQL) and ``pipelines``
(orchestration, CLI) import it; imports only ever go downwards: pipelines -> sources, transforms -> core.
"""
