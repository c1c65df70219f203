"""The domain of Backchannel: actors, contact events, channels and the status rule.

Pure Python: nothing here performs I/O or imports a web or database framework
(the eventsourcing aggregate base is the one exception, by design).
"""
