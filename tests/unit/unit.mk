# Unit tests of the core (check).
UNIT_TESTS = tests/unit/test_core_pure tests/unit/test_request tests/unit/test_conf \
	tests/unit/test_workspace tests/unit/test_job_spec tests/unit/test_env_policy \
	tests/unit/test_json_bounds tests/unit/test_tenants tests/unit/test_catalog
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

tests_unit_test_tenants_SOURCES = tests/unit/test_tenants.c
tests_unit_test_tenants_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_tenants_LDADD = $(TEST_LDADD)
tests_unit_test_core_pure_SOURCES = tests/unit/test_core_pure.c
tests_unit_test_core_pure_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_core_pure_LDADD = $(TEST_LDADD)
tests_unit_test_request_SOURCES = tests/unit/test_request.c
tests_unit_test_request_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_request_LDADD = $(TEST_LDADD)
tests_unit_test_conf_SOURCES = tests/unit/test_conf.c
tests_unit_test_conf_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_conf_LDADD = $(TEST_LDADD)
tests_unit_test_workspace_SOURCES = tests/unit/test_workspace.c
tests_unit_test_workspace_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_workspace_LDADD = $(TEST_LDADD)
tests_unit_test_job_spec_SOURCES = tests/unit/test_job_spec.c
tests_unit_test_job_spec_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_job_spec_LDADD = $(TEST_LDADD)
tests_unit_test_env_policy_SOURCES = tests/unit/test_env_policy.c
tests_unit_test_env_policy_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_env_policy_LDADD = $(TEST_LDADD)
tests_unit_test_json_bounds_SOURCES = tests/unit/test_json_bounds.c
tests_unit_test_json_bounds_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_json_bounds_LDADD = $(TEST_LDADD)
tests_unit_test_catalog_SOURCES = tests/unit/test_catalog.c
tests_unit_test_catalog_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_catalog_LDADD = $(TEST_LDADD)
