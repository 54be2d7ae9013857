"""``mcpb build``: turn a server (project, package or binaries) into one bundle per platform.

The pipeline is split by concept: :mod:`.source` parses what to build, :mod:`.derive` writes or
completes the manifest, :mod:`.python`, :mod:`.node` and :mod:`.binary` stage each platform's
files, :mod:`.prune` and :mod:`.elf` make the staged tree small and provably single-arch, and
:mod:`.serverjson` describes the result for registries. :mod:`.pipeline` ties them together.
"""
