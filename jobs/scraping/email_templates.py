"""The built-in email templates (Jinja2): ``<name>.subject``, ``<name>.txt`` and optionally ``<name>.html``.

They live in code rather than as package data files so that they ship with any install; a directory set in
``EMAIL_TEMPLATE_DIR`` overrides any of them by file name, and adds new ones.
"""

from __future__ import annotations

TEMPLATES: dict[str, str] = {
    "job-completion.subject": "Scraping job {{ job_id }} {{ status }}",
    "job-completion.txt": """\
Job {{ job_id }} finished with status: {{ status }}.
{% if summary %}
{% for key, value in summary.items() %}  {{ key }}: {{ value }}
{% endfor %}{% endif %}""",
    "job-completion.html": """\
<!DOCTYPE html><html><body style="font-family: sans-serif">
<p>Job <strong>{{ job_id }}</strong> finished with status: <strong>{{ status }}</strong>.</p>
{% if summary %}<table>{% for key, value in summary.items() %}
<tr><td>{{ key }}</td><td>{{ value }}</td></tr>{% endfor %}
</table>{% endif %}
</body></html>""",
    "queue-alert.subject": "Queue {{ queue }}: {{ waiting }} jobs waiting",
    "queue-alert.txt": """\
Queue {{ queue }} has {{ waiting }} jobs waiting, above the alert threshold of {{ threshold }}.
""",
    "queue-alert-rule.subject": "Queue alert: {{ summary }}",
    "queue-alert-rule.txt": """\
Alert {{ rule }} on queue {{ queue }}: {{ metric }} is {{ value }}, past the threshold of {{ threshold }}.
{{ summary }}
""",
    "price-drop.subject": "Price drop: {{ product.name }}",
    "price-drop.txt": """\
{{ product.name }} is now {{ product.currency }} {{ product.price }} (was {{ old_price }}).
{{ product.url }}
""",
    "price-drop.html": """\
<!DOCTYPE html><html><body style="font-family: sans-serif">
<p><a href="{{ product.url }}">{{ product.name }}</a> is now
<strong>{{ product.currency }} {{ product.price }}</strong> (was {{ old_price }}).</p>
</body></html>""",
}
