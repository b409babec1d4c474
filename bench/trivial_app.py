"""The baseline: a trivial Flask POST endpoint, served the same way as the app."""

from flask import Flask, request

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return "ok"


@app.post("/webhooks/shopify")
def receive():
    request.get_data()
    return {"status": "stored"}
