# Manual pages and guides (the guides are distributed with doc/).
dist_man_MANS = doc/execd.8 doc/execd.conf.5 doc/execd-plugin.7
if BUILD_EXECCTL
dist_man_MANS += doc/execctl.1
endif
