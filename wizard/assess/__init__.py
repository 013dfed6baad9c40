"""Assessment: probe every host concurrently, classify the outage, recommend a recovery path.

The first decision of an incident, made on evidence: :mod:`.probes` says what is checked,
:mod:`.runner` runs the checks concurrently with their own timeouts and streams results as
events, :mod:`.classify` maps results and the operator's answers to the §5.3 outage classes,
:mod:`.recommend` turns those into a recovery path with alternatives and journals the decision.
No Textual here: the screens render the events.
"""
