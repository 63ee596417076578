"""The exact least-squares solution of each NIST StRD linear dataset *as rounded to f64*.

The design is built exactly as tests/common/nist.rs builds it (powers of x by repeated f64
multiplication, a column of ones for the intercept), every f64 is converted to an exact rational,
and the normal equations are solved in rational arithmetic. The result, rounded to the nearest
f64, is the best any f64 solver can return: its LRE against NIST's certified values is the
accuracy ceiling. Writes JSON to stdout:

    python3 tests/common/nist_exact.py > tests/common/nist_exact.json
"""
import json, math
from fractions import Fraction as F
import os, sys
D=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data', 'nist-strd') + '/'
cert=json.load(open(D+'certified.json'))
names=["Norris","Pontius","NoInt1","NoInt2","Filip","Longley","Wampler1","Wampler2","Wampler3","Wampler4","Wampler5"]
def lre(e,c):
    c=float(c) if not isinstance(c,float) else c
    err = abs(e-c)/abs(c) if c!=0 else abs(e)
    if err==0: return 15.0
    return max(0.0,min(15.0,-math.log10(err)))
def rng(lines,label):
    for l in lines[:30]:
        if l.strip().startswith(label) and '(lines' in l:
            a=l.split('(lines')[1].split(')')[0].split()
            return int(a[0]),int(a[2])
out={}
for name in names:
    c=cert[name]; lines=open(D+c['file']).read().splitlines()
    d0,d1=rng(lines,'Data')
    rows=[list(map(float,l.split())) for l in lines[d0-1:d1]]
    y=[r[0] for r in rows]
    if c.get('degree'):
        deg=c['degree']; X=[]
        for r in rows:
            t=r[1]; p=t; row=[t]
            for k in range(1,deg): p=p*t; row.append(p)
            X.append(row)
    else: X=[r[1:] for r in rows]
    if c['intercept']: X=[[1.0]+r for r in X]
    A=[[F(v) for v in r] for r in X]; b=[F(v) for v in y]
    p=len(A[0])
    G=[[sum(A[i][j]*A[i][k] for i in range(len(A))) for k in range(p)] for j in range(p)]
    r=[sum(A[i][j]*b[i] for i in range(len(A))) for j in range(p)]
    # gaussian elimination
    M=[G[j]+[r[j]] for j in range(p)]
    for col in range(p):
        piv=next(i for i in range(col,p) if M[i][col]!=0); M[col],M[piv]=M[piv],M[col]
        for i in range(p):
            if i!=col and M[i][col]!=0:
                f=M[i][col]/M[col][col]; M[i]=[a-f*bb for a,bb in zip(M[i],M[col])]
    sol=[M[i][p]/M[i][i] for i in range(p)]
    est=[float(s) for s in sol]
    cb=[float(v) for v in c['certified_beta']]
    out[name]={'exact_lre':round(min(lre(e,cc) for e,cc in zip(est,cb)),2),'beta':[repr(v) for v in est]}
json.dump(out, sys.stdout, indent=1)
print()
