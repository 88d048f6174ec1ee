-- wrk: POST /api/v1/auth/login as the demo guest (bench/identity.sh).
wrk.method = "POST"
wrk.path = "/api/v1/auth/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"guest@innkeeper.test","password":"innkeeper-demo-2026"}'
