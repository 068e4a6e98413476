"""Risk: probes read facts, four components score them, the policy decides.

Entry points: `risk.probes.probe` (facts), `risk.assess.assess` (score and decision, pure),
`risk.cache.ClusterCache` (a watch cache to probe through).
"""
