"""The sampler's decision, without a server."""

from __future__ import annotations

from gureum.tracing.sampling import DEFAULT_RULE, Sampler

STAGE = "AWS::ApiGateway::Stage"


def test_sampled_by_names_the_rule_that_picked_the_request() -> None:
    def rule(name: str, service: str, rate: float) -> dict[str, object]:
        return {
            **DEFAULT_RULE,
            "RuleName": name,
            "Priority": 1,
            "ServiceName": service,
            "ServiceType": STAGE,
            "ReservoirSize": 0,
            "FixedRate": rate,
        }

    sampler = Sampler()
    sampler.set_rules([rule("all", "shop/*", 1.0), rule("none", "quiet/*", 0.0)])
    assert sampler.sampled_by("shop/prod", STAGE) == "all"
    assert sampler.sample("shop/prod", STAGE)
    assert sampler.sampled_by("quiet/prod", STAGE) is None
    assert not sampler.sample("quiet/prod", STAGE)
    assert sampler.sampled_by("shop/prod", "AWS::Lambda::Function") in ("Default", None)
