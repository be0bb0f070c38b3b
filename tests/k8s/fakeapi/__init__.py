"""The fake Kubernetes API server's parts; fake_apiserver.py beside this package runs them."""
