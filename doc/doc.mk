# Manual pages and guides.
dist_man_MANS = doc/execd.8 doc/execd.conf.5 doc/execd-plugin.7
