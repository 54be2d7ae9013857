"""``mcpb image build``: the base images, built without any container registry.

:mod:`.spec` names the images and maps runtime spellings onto them, :mod:`.apt_sources` and
:mod:`.rootfs` bootstrap a minimal Debian root from the host's apt sources, :mod:`.cache` keeps
those roots keyed by their inputs, :mod:`.site` installs the loader for the image's Python and
CPU, :mod:`.labels` stamps OCI labels, :mod:`.docker` talks to the engine and :mod:`.build`
ties them together per (runtime, platform).
"""
