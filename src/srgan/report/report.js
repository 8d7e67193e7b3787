// The slider: the range input covers the image; its value moves the divider (--pos) and clips the right layer.
// The selects choose which layer is on each side.
for (const c of document.querySelectorAll('.cmp')) {
  const range = c.querySelector('input');
  range.addEventListener('input', () => c.style.setProperty('--pos', range.value + '%'));
  const zoom = c.parentElement.nextElementSibling.querySelector('select[data-zoom]');
  zoom.addEventListener('change', () => {
    c.style.width = c.dataset.width * zoom.value + 'px';
    c.style.maxWidth = +zoom.value > +c.dataset.fit ? 'none' : '';
    c.classList.toggle('zoomed', +zoom.value > 1);
  });
  for (const sel of c.parentElement.nextElementSibling.querySelectorAll('select[data-side]')) {
    sel.addEventListener('change', () => {
      const side = sel.dataset.side;
      for (const img of c.querySelectorAll('img')) img.classList.toggle(side, img.dataset.layer === sel.value);
      c.querySelector('.tag.' + side).textContent = sel.selectedOptions[0].text;
    });
  }
}
