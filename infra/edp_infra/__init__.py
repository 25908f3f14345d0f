"""Infrastructure as code for the event data platform: the AWS CDK app, sizing and cost, the bundle checks.

Names come from :mod:`edp.config` (one source for the platform and its infrastructure); sizes come from
:mod:`edp_infra.sizing`. Nothing here is imported by the platform itself or enters its image.
"""
