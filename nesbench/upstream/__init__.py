"""Upstream methods (IMavatar, PointAvatar): pinned clones, overlays, compatibility patches, confs."""
