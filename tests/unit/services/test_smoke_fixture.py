"""The shared study fixture: the example protocol's templates and settings."""


def test_fixture_study_has_the_example_templates(study):
    assert {"stepdown-a", "table-12wk"} <= set(study.templates)
    assert study.protocol.settings.target_day == 183
