/* The fleet page's only script (docs/ui.md). The page works without it;
 * it adds sorting of tables and live updates of views that ask for them
 * (data-live: a server-sent events URL whose messages replace the element
 * with the same id). */
'use strict';

function sortKey(cell) {
	var s = cell.getAttribute('data-sort');
	if (s !== null && s !== '' && !isNaN(Number(s))) return Number(s);
	return cell.textContent.trim().toLowerCase();
}

function makeSortable(table) {
	var heads = table.querySelectorAll('thead th');
	heads.forEach(function (th, col) {
		var label = th.textContent;
		var btn = document.createElement('button');
		btn.type = 'button';
		btn.textContent = label;
		th.textContent = '';
		th.appendChild(btn);
		btn.addEventListener('click', function () {
			var asc = th.getAttribute('aria-sort') !== 'ascending';
			heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
			th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
			var body = table.tBodies[0];
			var rows = Array.prototype.slice.call(body.rows);
			rows.sort(function (a, b) {
				var x = sortKey(a.cells[col]), y = sortKey(b.cells[col]);
				return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
			});
			rows.forEach(function (r) { body.appendChild(r); });
		});
	});
}

function live(el) {
	if (!window.EventSource) return;
	var src = new EventSource(el.getAttribute('data-live'));
	src.onmessage = function (ev) {
		var tpl = document.createElement('template');
		tpl.innerHTML = ev.data;
		var fresh = tpl.content.firstElementChild;
		if (fresh && fresh.id === el.id) {
			el.replaceWith(fresh);
			el = fresh;
			el.querySelectorAll('table.sortable').forEach(makeSortable);
		}
	};
}

document.addEventListener('DOMContentLoaded', function () {
	document.querySelectorAll('table.sortable').forEach(makeSortable);
	document.querySelectorAll('[data-live]').forEach(live);
});
