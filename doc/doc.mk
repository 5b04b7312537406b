# Manual pages and guides.
dist_man_MANS =
