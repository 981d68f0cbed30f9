import { imageTypeOf, isAllowedHost, outputHeaders, outputKeyProblem, refusedWrite } from '../src/dashboard/dashboard-security';

describe('isAllowedHost', () => {
  it('answers to 127.0.0.1 and localhost on its own port only', () => {
    expect(isAllowedHost('127.0.0.1:4569', 4569)).toBe(true);
    expect(isAllowedHost('localhost:4569', 4569)).toBe(true);
    // A DNS-rebinding page reaches the same socket under its own name.
    expect(isAllowedHost('attacker.example:4569', 4569)).toBe(false);
    expect(isAllowedHost('127.0.0.1:4570', 4569)).toBe(false);
    expect(isAllowedHost('127.0.0.1', 4569)).toBe(false);
    expect(isAllowedHost(undefined, 4569)).toBe(false);
  });
});

describe('refusedWrite', () => {
  const json = 'application/json';
  it('lets this page\'s own JSON request through', () => {
    expect(refusedWrite({ origin: 'http://127.0.0.1:4569', contentType: json }, 4569)).toBeUndefined();
    expect(refusedWrite({ origin: 'http://localhost:4569', contentType: 'Application/JSON; charset=utf-8' }, 4569)).toBeUndefined();
  });

  it('refuses another origin, a missing one, and a body a cross-site form could send', () => {
    expect(refusedWrite({ origin: 'https://evil.example', contentType: json }, 4569)).toMatch(/Origin/);
    expect(refusedWrite({ origin: 'null', contentType: json }, 4569)).toMatch(/Origin/);
    expect(refusedWrite({ contentType: json }, 4569)).toMatch(/Origin/);
    expect(refusedWrite({ origin: 'http://127.0.0.1:4570', contentType: json }, 4569)).toMatch(/Origin/);
    expect(refusedWrite({ origin: 'http://127.0.0.1:4569', contentType: 'text/plain' }, 4569)).toMatch(/application\/json/);
    expect(refusedWrite({ origin: 'http://127.0.0.1:4569', contentType: 'application/x-www-form-urlencoded' }, 4569)).toMatch(/application\/json/);
    expect(refusedWrite({ origin: 'http://127.0.0.1:4569' }, 4569)).toMatch(/application\/json/);
  });
});

describe('outputKeyProblem', () => {
  it('accepts keys S3 could hold, spaces and non-ASCII included', () => {
    expect(outputKeyProblem('224x224/cats/写真/neko 1.jpg')).toBeUndefined();
  });

  it('names what is wrong with a key that could climb out or confuse', () => {
    expect(outputKeyProblem('')).toMatch(/missing/);
    expect(outputKeyProblem('../source/a.jpg')).toMatch(/segment/);
    expect(outputKeyProblem('a/./b.jpg')).toMatch(/segment/);
    expect(outputKeyProblem('/etc/passwd')).toMatch(/segment/);
    expect(outputKeyProblem('a//b.jpg')).toMatch(/segment/);
    expect(outputKeyProblem('a\nb.jpg')).toMatch(/control/);
    expect(outputKeyProblem('é'.repeat(513))).toMatch(/1024 bytes/);
  });
});

describe('outputHeaders', () => {
  it('shows raster images inline with their own type', () => {
    expect(outputHeaders('224x224/a.JPG')).toEqual({ 'Content-Type': 'image/jpeg' });
    expect(outputHeaders('x/b.webp')).toEqual({ 'Content-Type': 'image/webp' });
    expect(imageTypeOf('x/b.png')).toBe('image/png');
  });

  it('makes anything else, SVG and HTML included, a download that is never rendered', () => {
    for (const key of ['x/drawing.svg', 'report.html', 'stats.json', 'noextension']) {
      expect(outputHeaders(key)).toMatchObject({ 'Content-Type': 'application/octet-stream', 'Content-Disposition': expect.stringMatching(/^attachment; /) });
    }
    expect(outputHeaders('dir/a "quoted"; name.json')['Content-Disposition'])
      .toBe('attachment; filename="a__quoted___name.json"; filename*=UTF-8\'\'a%20%22quoted%22%3B%20name.json');
  });
});
