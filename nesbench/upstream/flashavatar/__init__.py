"""FlashAvatar (USTC3DV/FlashAvatar-code) through the harness: patches, settings, jobs (the converter is
:mod:`nesbench.upstream.flashavatar_convert`)."""
