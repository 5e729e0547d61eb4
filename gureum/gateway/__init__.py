"""The API gateway: APIs that reach functions over HTTP, configured with apigatewayv2's
API (HTTP APIs) and apigateway's (REST APIs).

:mod:`~gureum.gateway.gateway_store` keeps the APIs and their parts (routes,
integrations, stages, deployments; a REST API's resources) in the store;
:mod:`~gureum.gateway.management_api` serves apigatewayv2's operations over them and
:mod:`~gureum.gateway.rest_management` apigateway's; :mod:`~gureum.gateway.routing`
matches a request to its route as API Gateway does; :mod:`~gureum.gateway.http_events`
builds the events a function receives and reads its answers (payload formats 1.0 and
2.0, REST APIs' proxy event); :mod:`~gureum.gateway.http_api` serves an API's invoke URL
on the edge, handing REST APIs' to :mod:`~gureum.gateway.rest_api`.
"""
