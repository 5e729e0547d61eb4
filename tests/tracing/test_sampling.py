"""The sampler's decision, without a server; and the rules that nodes share."""

from __future__ import annotations

import asyncio

from gureum.store import Store
from gureum.tracing.sampling import DEFAULT_RULE, Sampler, SamplingRules

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


def test_a_node_takes_in_the_rules_another_node_changed(store: Store) -> None:
    """Two nodes' rules on one store (both engines): a reload brings what the other
    created, changed and deleted, and never loses a rule of the node's own."""

    async def scenario() -> None:
        one = SamplingRules(store, Sampler(), region="us-east-1", account_id="0" * 12)
        other_sampler = Sampler()
        other = SamplingRules(store, other_sampler, region="us-east-1", account_id="0" * 12)
        await one.load()
        await other.load()
        rule = {
            **DEFAULT_RULE,
            "RuleName": "shop",
            "Priority": 5,
            "ServiceName": "shop/*",
            "ServiceType": STAGE,
            "ReservoirSize": 0,
            "FixedRate": 1.0,
        }
        await one.create(rule)
        assert other_sampler.sampled_by("shop/prod", STAGE) != "shop"
        await other.load()
        assert other_sampler.sampled_by("shop/prod", STAGE) == "shop"

        await one.update({"RuleName": "shop", "FixedRate": 0.0})
        await other.load()
        assert other_sampler.sampled_by("shop/prod", STAGE) is None

        await one.delete("shop", None)
        await other.load()
        assert [r["SamplingRule"]["RuleName"] for r in other.records()] == ["Default"]

        # a node's own change stays while it reloads over and over
        async def keep_loading() -> None:
            while True:
                await other.load()
                await asyncio.sleep(0)

        loading = asyncio.create_task(keep_loading())
        try:
            for n in range(5):
                await other.create({**rule, "RuleName": f"r{n}"})
                assert any(r["SamplingRule"]["RuleName"] == f"r{n}" for r in other.records())
        finally:
            loading.cancel()

    asyncio.run(scenario())
